"""Off-hours schedules: plan (cloud__plan_schedule) and apply (cloud__apply_schedule)."""
