"""The demo shop: a realistic Chinese clothing and small-appliance store."""
