DROP TABLE IF EXISTS `ps_threadgate_data_generation`;
