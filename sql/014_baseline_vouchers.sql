-- The regenerate-voucher rate's own baseline: vouchers and gen_ok in the hour before the run
-- started, captured once at its first evaluation next to the baseline cost (the judge compares
-- the voucher rate with it, since vouchers carry no provider).
ALTER TABLE rollout.runs ADD COLUMN IF NOT EXISTS baseline_vouchers jsonb;
