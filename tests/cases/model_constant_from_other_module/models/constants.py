STATUSES = ["open", "pending", "closed"]
STATUS_DOC = "Ticket status: open, pending or closed"
