ALTER TABLE `ps_threadgate_state` DROP COLUMN IF EXISTS `data_generation`;
