-- Business units' customers and revenue per customer are commercial figures: unit heads see only
-- their own units' unless the CCO office opens them to every unit head (pilots.store.list_units).
ALTER TABLE org_settings ADD COLUMN unit_figures_for_unit_heads BOOLEAN NOT NULL DEFAULT false;
