-- threadgate's event log (docs/events.md): one row per change of a thread or a message, in
-- the order appended (readers never pass one that commits late: docs/events.md, "Ordering"). threadgate's own writes append theirs in the write's transaction; the watcher
-- appends those of changes made outside threadgate (source `shop`).

CREATE TABLE IF NOT EXISTS `ps_threadgate_event` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `type` varchar(32) NOT NULL,
  `id_customer_thread` int(10) unsigned NOT NULL,
  `id_customer_message` int(10) unsigned DEFAULT NULL,
  `id_shop` int(10) unsigned NOT NULL,
  `source` varchar(8) NOT NULL,
  `id_key` int(10) unsigned DEFAULT NULL,
  `data` text,
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `thread` (`id_customer_thread`, `id`),
  KEY `created_at` (`created_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- Row 1: the watcher's marks (`version` changes with each poll); a watcher locks it
-- (`FOR UPDATE`) before it appends, so that nodes polling at once log each change once.
-- threadgate's writes append without it (comments corrected after the migration was applied;
-- the SQL is unchanged).
-- Row 2: the retention purge's mark (`purged_through`: every event id up to it is gone).
CREATE TABLE IF NOT EXISTS `ps_threadgate_event_state` (
  `id` tinyint(1) unsigned NOT NULL,
  `version` bigint(20) unsigned NOT NULL DEFAULT '0',
  `ready` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `last_thread_id` bigint(20) unsigned NOT NULL DEFAULT '0',
  `last_message_id` bigint(20) unsigned NOT NULL DEFAULT '0',
  `date_upd_mark` datetime DEFAULT NULL,
  `gaps` mediumtext,
  `purged_through` bigint(20) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT IGNORE INTO `ps_threadgate_event_state` (`id`) VALUES (1), (2);
