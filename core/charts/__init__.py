"""Altair chart builders: pure functions, DataFrame or result in, chart out (no Streamlit, no I/O).

One module per page: core.charts.transformer, core.charts.inference, ...
"""
