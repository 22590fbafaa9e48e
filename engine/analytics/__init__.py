"""Pure analytics: functions of numbers, no I/O, no clock."""
