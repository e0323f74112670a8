-- verdict_commit_validations (migration 0003) with the batch's JSON as the server now sends it:
-- each event is the exact canonical text that was hashed plus "hash" (camelCase, the contract's
-- field names), and a validation record carries no copy of its request, which is taken from its
-- event's context. Same arguments, same locks, same checks and result as before.
-- A new name, not a replacement: during a rolling deploy the previous release's instances keep
-- calling verdict_commit_validations with snake_case events, and so does that release after a
-- rollback. Drop the old function once no release that calls it can run.
CREATE OR REPLACE FUNCTION verdict_commit_validations_v2(
  p_tenant text,
  p_assumed_sequence bigint,
  p_assumed_hash text,
  p_request_ids uuid[],
  p_counters jsonb,
  p_deltas jsonb,
  p_events jsonb,
  p_validations jsonb,
  p_head_sequence bigint,
  p_head_hash text
) RETURNS boolean
-- A NULL argument returns NULL without running the body; the caller reads that as "not written".
STRICT
LANGUAGE plpgsql
-- PL/pgSQL caches a generic plan per session. One cached while a tenant's tables were empty
-- (seq scans) stays, and the request id lookup took 10 ms at 30k rows. Custom plans see the
-- tables as they are, for about 0.1 ms of planning per statement.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  v_sequence bigint;
  v_hash text;
  v_same integer;
  v_updated integer;
BEGIN
  SELECT sequence, hash INTO v_sequence, v_hash
    FROM audit_chain_heads WHERE tenant_id = p_tenant FOR UPDATE;
  IF NOT FOUND OR v_sequence <> p_assumed_sequence OR v_hash <> p_assumed_hash THEN
    RETURN false;
  END IF;

  IF EXISTS (SELECT 1 FROM transaction_validations
             WHERE tenant_id = p_tenant AND request_id = ANY (p_request_ids)) THEN
    RETURN false;
  END IF;

  SELECT count(*) INTO v_same FROM (
    SELECT c.usage = e.usage AS same
      FROM limit_counters c
      JOIN jsonb_to_recordset(p_counters) AS e(limit_id uuid, scope_key text, period_key text, usage numeric)
        ON c.limit_id = e.limit_id AND c.scope_key = e.scope_key AND c.period_key = e.period_key
     WHERE c.tenant_id = p_tenant
     ORDER BY c.limit_id, c.scope_key, c.period_key
       FOR UPDATE OF c
  ) locked WHERE locked.same;
  IF v_same <> jsonb_array_length(p_counters) THEN
    RETURN false;
  END IF;

  UPDATE limit_counters c SET usage = c.usage + v.delta, updated_at = now()
    FROM jsonb_to_recordset(p_deltas)
      AS v(limit_id uuid, scope_key text, period_key text, delta numeric, max_amount numeric)
   WHERE c.tenant_id = p_tenant AND c.limit_id = v.limit_id AND c.scope_key = v.scope_key
     AND c.period_key = v.period_key AND c.usage + v.delta <= v.max_amount;
  GET DIAGNOSTICS v_updated = ROW_COUNT;
  IF v_updated <> jsonb_array_length(p_deltas) THEN
    RAISE EXCEPTION 'limit counter guard rejected % of % updates',
      jsonb_array_length(p_deltas) - v_updated, jsonb_array_length(p_deltas)
      USING ERRCODE = 'check_violation';
  END IF;

  -- Each event as stored is the canonical text that was hashed plus "hash", in the contract's
  -- camelCase; actor_id is the actor's id inside it.
  INSERT INTO audit_events (tenant_id, sequence, event_id, event_type, action, result,
      resource_type, resource_id, actor_id, actor, context, metadata, created_at, previous_hash, hash)
    SELECT r."tenantId", r.sequence, r."eventId", r."eventType", r.action, r.result, r."resourceType",
        r."resourceId", r.actor->>'id', r.actor, r.context, r.metadata, r."createdAt", r."previousHash", r.hash
      FROM jsonb_to_recordset(p_events) AS r("tenantId" text, sequence bigint, "eventId" uuid,
        "eventType" text, action text, result text, "resourceType" text, "resourceId" text, actor jsonb,
        context jsonb, metadata jsonb, "createdAt" timestamptz, "previousHash" text, hash text);
  UPDATE audit_chain_heads SET sequence = p_head_sequence, hash = p_head_hash
   WHERE tenant_id = p_tenant;

  -- The request is sent once, inside its event, and recorded from there: the stored request is
  -- by construction the audited one.
  INSERT INTO transaction_validations (validation_id, tenant_id, request_id, request_hash,
      decision, reason, amount, currency, transaction_type, sub_type, account_id, segment_id, portfolio_id,
      merchant_id, matched_rule_ids, exceeded_limit_ids, request, response, processing_time_ms, audit_sequence,
      created_at)
    SELECT r.validation_id, r.tenant_id, r.request_id, r.request_hash, r.decision, r.reason, r.amount,
        r.currency, r.transaction_type, r.sub_type, r.account_id, r.segment_id, r.portfolio_id, r.merchant_id,
        r.matched_rule_ids, r.exceeded_limit_ids, e.context->'request', r.response, r.processing_time_ms,
        r.audit_sequence, r.created_at
      FROM jsonb_to_recordset(p_validations) AS r(validation_id uuid, tenant_id text,
        request_id uuid, request_hash text, decision text, reason text, amount numeric, currency text,
        transaction_type text, sub_type text, account_id text, segment_id text, portfolio_id text,
        merchant_id text, matched_rule_ids jsonb, exceeded_limit_ids jsonb, response text,
        processing_time_ms float8, audit_sequence bigint, created_at timestamptz)
      JOIN jsonb_to_recordset(p_events) AS e(sequence bigint, context jsonb) ON e.sequence = r.audit_sequence;
  GET DIAGNOSTICS v_updated = ROW_COUNT;
  IF v_updated <> jsonb_array_length(p_validations) THEN
    RAISE EXCEPTION 'validation records without their event: % of %',
      jsonb_array_length(p_validations) - v_updated, jsonb_array_length(p_validations)
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN true;
END;
$$;
