DROP TABLE phone_requests;
