"""One module per resource: a Blueprint and its MethodViews."""
