-- threadgate's own key store. A key is never stored: `hash` is its argon2id PHC string and
-- `lookup` a 16-bit bucket (4 hex digits of SHA-256 of the upper-cased key) that narrows the
-- rows to verify without saying anything useful about the key.

CREATE TABLE IF NOT EXISTS `ps_threadgate_key` (
  `id_key` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `lookup` char(4) NOT NULL,
  `hash` varchar(255) NOT NULL,
  `description` text,
  `active` tinyint(1) unsigned NOT NULL DEFAULT '1',
  `date_add` datetime NOT NULL,
  `date_upd` datetime NOT NULL,
  PRIMARY KEY (`id_key`),
  KEY `lookup` (`lookup`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS `ps_threadgate_key_permission` (
  `id_key` int(10) unsigned NOT NULL,
  `resource` varchar(50) NOT NULL,
  `method` enum('GET','POST','PUT','PATCH','DELETE','HEAD') NOT NULL,
  PRIMARY KEY (`id_key`, `resource`, `method`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS `ps_threadgate_key_shop` (
  `id_key` int(10) unsigned NOT NULL,
  `id_shop` int(11) unsigned NOT NULL,
  PRIMARY KEY (`id_key`, `id_shop`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

-- One row: bumped by every key change, so running servers drop their verified-key cache.
CREATE TABLE IF NOT EXISTS `ps_threadgate_state` (
  `id` tinyint(1) unsigned NOT NULL,
  `key_generation` bigint(20) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT IGNORE INTO `ps_threadgate_state` (`id`, `key_generation`) VALUES (1, 0);
