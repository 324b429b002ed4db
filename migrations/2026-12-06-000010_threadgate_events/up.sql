-- threadgate's event log (docs/events.md): one row per change of a thread or a message.
-- Stand-in on the `delivery` branch for the table the event log's branch owns: same columns.

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
