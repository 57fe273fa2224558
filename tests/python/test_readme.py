"""The README's examples are the files under examples/, verbatim, and they run."""

import pathlib
import re
import runpy

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _blocks(lang):
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_python_example_is_examples_quickstart(capsys):
    example = (ROOT / "examples" / "quickstart.py").read_text()
    assert example in _blocks("python")
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "ConversionTable(20000 entities, 6 segments by 'source')" in out
    assert "Referral" in out


def test_every_readme_python_block_runs_in_order(capsys):
    namespace: dict = {"__name__": "__readme__"}
    for block in _blocks("python"):
        exec(compile(block, "README.md", "exec"), namespace)
    capsys.readouterr()


def test_readme_cpp_example_is_examples_quickstart():
    # The C++ example is built and run by ctest; its output is compared with Python's in
    # test_conversion.py::test_cpp_example_gives_the_same_numbers.
    example = (ROOT / "examples" / "quickstart.cpp").read_text()
    assert example in _blocks("cpp")


def test_demo_report_runs(capsys):
    from funnelkit.report import main

    assert main(["demo", "--leads", "3000", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    for section in ("Funnel, all sources", "handoff: MQL -> SAL", "Lead -> Customer by source",
                    "Time in stage", "Why leads leave", "Stuck:", "Sales velocity by source", "Plan for",
                    "SLA"):
        assert section in text, section
    assert "3,000 leads" in text
