"""Outbound webhooks: who we may call, how one attempt is made, and the retry schedule."""
