-- Several threadgate nodes on one database (docs/architecture.md, "Several nodes, one truth"):
-- every write transaction threadgate commits to the thread tables adds one to `writes` of one
-- slot, and every node reads the sum with the key generation (one statement per key poll), so
-- the bridges' read cache of every node, not only the writing one's, drops what the write made
-- outdated. Sixteen slots, taken in turn, rather than one row: a row updated by a transaction
-- stays locked until its COMMIT, so one row would make concurrent writes commit one by one.
CREATE TABLE IF NOT EXISTS `ps_threadgate_data_generation` (
  `slot` tinyint(3) unsigned NOT NULL,
  `writes` bigint(20) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`slot`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT IGNORE INTO `ps_threadgate_data_generation` (`slot`) VALUES
  (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15);
