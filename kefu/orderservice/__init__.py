"""Order service (售中): daily unpaid/unshipped checks, duplicate purchases, stock-outs,
address confirmation after payment and merge-shipment requests. See docs/orderservice.md."""
