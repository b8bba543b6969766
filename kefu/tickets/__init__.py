"""Work orders (工单): tickets, SLAs, escalation, complaints, follow-up visits, CSAT."""
