import funnelkit as fk

df = fk.sample_crm(20_000, seed=42)           # synthetic CRM stage history (pandas)
table = fk.conversion(df, segment="source")   # reach and rates per stage and source
print(table)                                  # the overall funnel

rates = table.to_pandas()
won = rates[rates["stage"] == "Customer"].set_index("source")
print(won[["entities", "reached", "cumulative_rate"]])
assert won.loc["Referral", "cumulative_rate"] > won.loc["Outbound", "cumulative_rate"]
print(table.explain())                        # the definition, the inputs and the options in force
