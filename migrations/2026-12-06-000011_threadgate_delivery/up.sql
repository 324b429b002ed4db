-- Delivery of the event log (docs/events.md): webhook subscriptions with their position in the
-- log and their lease, and the customer e-mails on shop replies with their sending state.
-- Times are UTC (`UTC_TIMESTAMP(6)`), like the event log's `created_at`.

-- One row per subscription. `secret` is the signing secret encrypted with the server's secret
-- key (XChaCha20-Poly1305, base64 of nonce and ciphertext), never the secret itself.
-- `position`: every event up to this id has been delivered (or did not match the filters).
-- `lease_owner`/`lease_until`: the node delivering it; another takes it only once the lease
-- has expired (an atomic UPDATE), so each event goes out once per subscription.
CREATE TABLE IF NOT EXISTS `ps_threadgate_webhook` (
  `id_webhook` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `url` varchar(2048) NOT NULL,
  `events` varchar(255) NOT NULL,
  `resource` varchar(32) DEFAULT NULL,
  `id_shop` int(10) unsigned DEFAULT NULL,
  `secret` varchar(255) NOT NULL,
  `state` varchar(16) NOT NULL DEFAULT 'active',
  `state_reason` varchar(1024) DEFAULT NULL,
  `position` bigint(20) unsigned NOT NULL DEFAULT '0',
  `attempts` int(10) unsigned NOT NULL DEFAULT '0',
  `failing_since` datetime(6) DEFAULT NULL,
  `next_attempt_at` datetime(6) DEFAULT NULL,
  `last_error` varchar(1024) DEFAULT NULL,
  `last_delivered_at` datetime(6) DEFAULT NULL,
  `delivered` bigint(20) unsigned NOT NULL DEFAULT '0',
  `failures` bigint(20) unsigned NOT NULL DEFAULT '0',
  `lease_owner` varchar(64) DEFAULT NULL,
  `lease_until` datetime(6) NOT NULL DEFAULT '1970-01-02 00:00:00.000000',
  `created_at` datetime(6) NOT NULL,
  PRIMARY KEY (`id_webhook`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- The e-mail sender's position in the log and its lease (one row). It starts at the newest
-- event: e-mails go out for replies made after `migrate`, never for older ones.
CREATE TABLE IF NOT EXISTS `ps_threadgate_mail_cursor` (
  `id` tinyint(1) unsigned NOT NULL,
  `position` bigint(20) unsigned NOT NULL DEFAULT '0',
  `lease_owner` varchar(64) DEFAULT NULL,
  `lease_until` datetime(6) NOT NULL DEFAULT '1970-01-02 00:00:00.000000',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT IGNORE INTO `ps_threadgate_mail_cursor` (`id`, `position`)
  SELECT 1, COALESCE(MAX(`id`), 0) FROM `ps_threadgate_event`;

-- One row per customer e-mail to send (an employee's public reply made through the API):
-- `pending` until sent (`sent`), given up after the retry period (`failed`), or not to be sent
-- (`skipped`: the message is gone, the shop sends no mail, the address is unusable).
CREATE TABLE IF NOT EXISTS `ps_threadgate_mail` (
  `id_event` bigint(20) unsigned NOT NULL,
  `id_customer_thread` int(10) unsigned NOT NULL,
  `id_customer_message` int(10) unsigned NOT NULL,
  `id_shop` int(10) unsigned NOT NULL,
  `state` varchar(16) NOT NULL DEFAULT 'pending',
  `attempts` int(10) unsigned NOT NULL DEFAULT '0',
  `next_attempt_at` datetime(6) NOT NULL,
  `last_error` varchar(1024) DEFAULT NULL,
  `recipient` varchar(255) DEFAULT NULL,
  `created_at` datetime(6) NOT NULL,
  `sent_at` datetime(6) DEFAULT NULL,
  PRIMARY KEY (`id_event`),
  KEY `due` (`state`, `next_attempt_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
