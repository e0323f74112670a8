-- The chain head only moves forward: its sequence may only grow, and it can be neither deleted
-- nor truncated. Verification compares the stored events with it, so it is part of the evidence.
CREATE OR REPLACE FUNCTION verdict_audit_head_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.sequence > OLD.sequence AND NEW.tenant_id = OLD.tenant_id THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_chain_heads only moves forward: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_chain_heads_forward_only
  BEFORE UPDATE OR DELETE ON audit_chain_heads
  FOR EACH ROW EXECUTE FUNCTION verdict_audit_head_forward_only();
--> statement-breakpoint
CREATE TRIGGER audit_chain_heads_no_truncate
  BEFORE TRUNCATE ON audit_chain_heads
  FOR EACH STATEMENT EXECUTE FUNCTION verdict_audit_head_forward_only();
