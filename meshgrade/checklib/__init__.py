"""Pure check functions over a Context, one module per check group."""
