"""Fee pages: billing (items, runs, bills, reports) and payments (resident, accountant, gateway)."""
