-- PrestaShop 8's `shop_url` (install-dev/data/db_structure.sql), created only when missing: the
-- domains and base URIs of each shop, from which a request without `id_shop` gets its shop
-- (`Shop::initialize`, `Shop::findShopByHost`). On a live shop it exists already and nothing here
-- touches it. A fresh database gets the demo shop's row from `threadgate seed --demo`.

CREATE TABLE IF NOT EXISTS `ps_shop_url` (
  `id_shop_url` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `id_shop` int(11) unsigned NOT NULL,
  `domain` varchar(150) NOT NULL,
  `domain_ssl` varchar(150) NOT NULL,
  `physical_uri` varchar(64) NOT NULL,
  `virtual_uri` varchar(64) NOT NULL,
  `main` tinyint(1) NOT NULL,
  `active` tinyint(1) NOT NULL,
  PRIMARY KEY (`id_shop_url`),
  UNIQUE KEY `full_shop_url` (`domain`, `physical_uri`, `virtual_uri`),
  UNIQUE KEY `full_shop_url_ssl` (`domain_ssl`, `physical_uri`, `virtual_uri`),
  KEY `id_shop` (`id_shop`, `main`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
