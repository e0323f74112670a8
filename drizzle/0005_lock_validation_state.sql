-- The explicit transaction's first step in one statement (a batch with nothing to assume, or one
-- whose plan was stale): lock the tenant's chain head (creating it at sequence 0), create the
-- batch's missing counters at zero and lock them in key order, the same order as
-- verdict_commit_validations, and read the stored answers for its request ids. Returns
-- {sequence, hash, usage: [{limit_id, scope_key, period_key, usage}], answers: [{request_id,
-- request_hash, response}]}. The caller decides under these locks and writes with
-- verdict_commit_validations in the same transaction.
CREATE OR REPLACE FUNCTION verdict_lock_validation_state(
  p_tenant text,
  p_request_ids uuid[],
  p_counters jsonb
) RETURNS jsonb
STRICT
LANGUAGE plpgsql
-- As for verdict_commit_validations: plans made while the tables were empty must not stay cached.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  v_sequence bigint;
  v_hash text;
  v_usage jsonb;
  v_answers jsonb;
BEGIN
  INSERT INTO audit_chain_heads (tenant_id, sequence, hash)
    VALUES (p_tenant, 0, repeat('0', 64))
    ON CONFLICT (tenant_id) DO NOTHING;
  SELECT sequence, hash INTO v_sequence, v_hash
    FROM audit_chain_heads WHERE tenant_id = p_tenant FOR UPDATE;

  INSERT INTO limit_counters (tenant_id, limit_id, scope_key, period_key, usage, period_start,
      reset_at, updated_at)
    SELECT p_tenant, e.limit_id, e.scope_key, e.period_key, 0, e.period_start, e.reset_at, now()
      FROM jsonb_to_recordset(p_counters)
        AS e(limit_id uuid, scope_key text, period_key text, period_start timestamptz,
             reset_at timestamptz)
     ORDER BY e.limit_id, e.scope_key, e.period_key
    ON CONFLICT DO NOTHING;
  SELECT coalesce(jsonb_agg(jsonb_build_object('limit_id', l.limit_id, 'scope_key', l.scope_key,
           'period_key', l.period_key, 'usage', l.usage::text)), '[]'::jsonb)
    INTO v_usage
    FROM (SELECT c.limit_id, c.scope_key, c.period_key, c.usage
            FROM limit_counters c
            JOIN jsonb_to_recordset(p_counters) AS e(limit_id uuid, scope_key text, period_key text)
              ON c.limit_id = e.limit_id AND c.scope_key = e.scope_key AND c.period_key = e.period_key
           WHERE c.tenant_id = p_tenant
           ORDER BY c.limit_id, c.scope_key, c.period_key
             FOR UPDATE OF c) l;

  SELECT coalesce(jsonb_agg(jsonb_build_object('request_id', v.request_id,
           'request_hash', v.request_hash, 'response', v.response)), '[]'::jsonb)
    INTO v_answers
    FROM transaction_validations v
   WHERE v.tenant_id = p_tenant AND v.request_id = ANY (p_request_ids);

  RETURN jsonb_build_object('sequence', v_sequence, 'hash', v_hash, 'usage', v_usage,
    'answers', v_answers);
END;
$$;
