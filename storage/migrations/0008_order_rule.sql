-- The pre-trade check that refused an order (`validation.volume`,
-- `risk.max_exposure`, `kill_switch`...), beside its retcode and reason.
-- NULL for orders a broker refused and for rows stored before this.

ALTER TABLE orders ADD COLUMN rule TEXT;
