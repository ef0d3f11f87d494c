"""powchain.policy: relay and mining policy (fees, limits, standardness). Pure; never imported
by consensus."""
