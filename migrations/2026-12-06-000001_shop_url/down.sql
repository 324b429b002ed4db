-- Never drop a PrestaShop table: on a live shop it holds the shop's data.
DO 0;
