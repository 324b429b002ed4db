-- Never drop a PrestaShop table: on a live shop they hold the shop's data.
DO 0;
