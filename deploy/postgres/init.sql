-- Each service owns its database (run once, when the volume is new).
CREATE DATABASE auth;
CREATE DATABASE posts;
