"""Subject rights: disputes, personal statements, freezes and fraud alerts, opt-outs."""
