DROP TABLE course_token_refusals;
