"""The application server's database: models, engine, repositories, migrations."""
