"""Plotly figure builders over arrays and frames (no Streamlit): every chart of the pages and of the report.

One module per concept: ``layout`` (colours, the shared map layout, printing a figure), ``maps``
(Embeddings and Prune maps), ``pairs`` (class-pair heatmap, band histogram), ``prune`` (score
histogram, per-class bars), ``theory`` (bounds, monitored losses), ``accuracy`` (accuracy over seed
groups, accuracy vs pruning ratio). A page and the HTML report draw a chart by calling the same function.
"""
