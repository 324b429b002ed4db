DROP TABLE IF EXISTS `ps_threadgate_event_state`;
DROP TABLE IF EXISTS `ps_threadgate_event`;
