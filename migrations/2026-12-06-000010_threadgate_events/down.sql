DROP TABLE IF EXISTS `ps_threadgate_event`;
