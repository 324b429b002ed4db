-- When a key was last used (written at most once a minute per key by the server's background
-- task), and, for keys copied by `keys import-prestashop`, the shop's `id_webservice_account`
-- they came from (so a re-import updates instead of duplicating). Only threadgate's own table
-- is altered: no PrestaShop table is ever touched.

ALTER TABLE `ps_threadgate_key`
  ADD COLUMN `last_used` datetime DEFAULT NULL,
  ADD COLUMN `id_webservice_account` int(11) DEFAULT NULL,
  ADD UNIQUE KEY `id_webservice_account` (`id_webservice_account`);
