DROP TABLE IF EXISTS `ps_threadgate_state`;
DROP TABLE IF EXISTS `ps_threadgate_key_shop`;
DROP TABLE IF EXISTS `ps_threadgate_key_permission`;
DROP TABLE IF EXISTS `ps_threadgate_key`;
