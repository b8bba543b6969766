"""After-sales (售后): cases, the return/refund policy engine, refunds, order changes."""
