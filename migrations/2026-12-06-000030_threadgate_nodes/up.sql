-- Several threadgate nodes on one database (docs/architecture.md, "Several nodes, one truth"):
-- every write transaction threadgate commits to the thread tables bumps `data_generation`, and
-- every node reads it with the key generation (one statement per key poll), so the bridges'
-- read cache of every node, not only the writing one's, drops what the write made outdated.
ALTER TABLE `ps_threadgate_state`
  ADD COLUMN IF NOT EXISTS `data_generation` bigint(20) unsigned NOT NULL DEFAULT '0';
