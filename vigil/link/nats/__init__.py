"""The link over NATS: an application server and media nodes on separate machines.

Nodes dial out to the bus (so they work behind NAT); the application side never dials a
node. ``subjects`` names who says what and what each user may touch, ``wire`` how calls
and their failures cross, ``embedded`` runs a nats-server for tests and small sites.
"""
