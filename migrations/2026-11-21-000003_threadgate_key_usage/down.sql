ALTER TABLE `ps_threadgate_key`
  DROP KEY `id_webservice_account`,
  DROP COLUMN `id_webservice_account`,
  DROP COLUMN `last_used`;
