"""Webhook tables (endpoints, deliveries, attempts); filled in with webhook delivery."""
