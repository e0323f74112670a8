CREATE TABLE "audit_chain_heads" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"sequence" bigint NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"tenant_id" text NOT NULL,
	"sequence" bigint NOT NULL,
	"event_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"action" text NOT NULL,
	"result" text NOT NULL,
	"resource_type" text NOT NULL,
	"resource_id" text NOT NULL,
	"actor_id" text NOT NULL,
	"actor" jsonb NOT NULL,
	"context" jsonb NOT NULL,
	"metadata" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"previous_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_events_tenant_id_sequence_pk" PRIMARY KEY("tenant_id","sequence"),
	CONSTRAINT "audit_events_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "catalog_versions" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "limit_counters" (
	"tenant_id" text NOT NULL,
	"limit_id" uuid NOT NULL,
	"scope_key" text NOT NULL,
	"period_key" text NOT NULL,
	"usage" numeric NOT NULL,
	"period_start" timestamp (3) with time zone NOT NULL,
	"reset_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "limit_counters_tenant_id_limit_id_scope_key_period_key_pk" PRIMARY KEY("tenant_id","limit_id","scope_key","period_key")
);
--> statement-breakpoint
CREATE TABLE "limits" (
	"limit_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"limit_type" text NOT NULL,
	"max_amount" numeric NOT NULL,
	"currency" text NOT NULL,
	"scopes" jsonb NOT NULL,
	"timezone" text NOT NULL,
	"active_time_start" text,
	"active_time_end" text,
	"custom_start_date" timestamp (3) with time zone,
	"custom_end_date" timestamp (3) with time zone,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"activated_at" timestamp (3) with time zone,
	"deactivated_at" timestamp (3) with time zone,
	"deleted_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "rules" (
	"rule_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"expression" jsonb NOT NULL,
	"action" text NOT NULL,
	"scopes" jsonb NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	"activated_at" timestamp (3) with time zone,
	"deactivated_at" timestamp (3) with time zone,
	"deleted_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "transaction_validations" (
	"validation_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"request_id" uuid NOT NULL,
	"request_hash" text NOT NULL,
	"decision" text NOT NULL,
	"reason" text NOT NULL,
	"amount" numeric NOT NULL,
	"currency" text NOT NULL,
	"transaction_type" text NOT NULL,
	"sub_type" text NOT NULL,
	"account_id" text NOT NULL,
	"segment_id" text,
	"portfolio_id" text,
	"merchant_id" text,
	"matched_rule_ids" jsonb NOT NULL,
	"exceeded_limit_ids" jsonb NOT NULL,
	"request" jsonb NOT NULL,
	"response" text NOT NULL,
	"processing_time_ms" double precision NOT NULL,
	"audit_sequence" bigint NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "audit_events_type_idx" ON "audit_events" USING btree ("tenant_id","event_type","sequence");--> statement-breakpoint
CREATE INDEX "audit_events_resource_idx" ON "audit_events" USING btree ("tenant_id","resource_id","sequence");--> statement-breakpoint
CREATE INDEX "audit_events_actor_idx" ON "audit_events" USING btree ("tenant_id","actor_id","sequence");--> statement-breakpoint
CREATE INDEX "audit_events_created_idx" ON "audit_events" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "limit_counters_period_idx" ON "limit_counters" USING btree ("tenant_id","limit_id","period_key");--> statement-breakpoint
CREATE UNIQUE INDEX "limits_name_live_uq" ON "limits" USING btree ("tenant_id","name") WHERE "limits"."status" <> 'DELETED';--> statement-breakpoint
CREATE INDEX "limits_status_idx" ON "limits" USING btree ("tenant_id","status");--> statement-breakpoint
CREATE INDEX "limits_created_idx" ON "limits" USING btree ("tenant_id","created_at","limit_id");--> statement-breakpoint
CREATE UNIQUE INDEX "rules_name_live_uq" ON "rules" USING btree ("tenant_id","name") WHERE "rules"."status" <> 'DELETED';--> statement-breakpoint
CREATE INDEX "rules_status_idx" ON "rules" USING btree ("tenant_id","status");--> statement-breakpoint
CREATE INDEX "rules_created_idx" ON "rules" USING btree ("tenant_id","created_at","rule_id");--> statement-breakpoint
CREATE UNIQUE INDEX "validations_request_uq" ON "transaction_validations" USING btree ("tenant_id","request_id");--> statement-breakpoint
CREATE INDEX "validations_created_idx" ON "transaction_validations" USING btree ("tenant_id","created_at","validation_id");--> statement-breakpoint
CREATE INDEX "validations_account_idx" ON "transaction_validations" USING btree ("tenant_id","account_id","created_at");