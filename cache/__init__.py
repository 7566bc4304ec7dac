"""The encrypted local cache: keys, snapshots, sync engine and authorised reads."""
