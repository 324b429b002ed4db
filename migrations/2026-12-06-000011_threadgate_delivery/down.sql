DROP TABLE IF EXISTS `ps_threadgate_mail`;
DROP TABLE IF EXISTS `ps_threadgate_mail_cursor`;
DROP TABLE IF EXISTS `ps_threadgate_webhook`;
