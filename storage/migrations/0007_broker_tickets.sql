-- The broker's own tickets (MT5 order, deal and position tickets) beside the
-- engine's, so an MT5 account's orders, deals and positions are matched exactly
-- after a restart. NULL for paper accounts and for rows stored before this.

ALTER TABLE orders ADD COLUMN broker_ticket INTEGER;
ALTER TABLE fills ADD COLUMN broker_ticket INTEGER;
ALTER TABLE positions ADD COLUMN broker_ticket INTEGER;
