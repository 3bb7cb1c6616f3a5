"""Go-compatibility helpers: byte-exact JSON, tar, YAML and tabwriter output as oc (Go) produces it."""
