-- Create the estateflow role and database (run as a superuser). Change the password.
CREATE ROLE estateflow LOGIN PASSWORD 'change-me';
CREATE DATABASE estateflow OWNER estateflow ENCODING 'UTF8' TEMPLATE template0;
