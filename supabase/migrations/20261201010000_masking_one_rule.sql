-- Masking: one rule for every place that shows stored payloads (job payloads, audit rows,
-- provider event headers; the adapter's logs and webhook attempt bodies apply the same
-- rule in edge_adapter/masking.py, checked equal by a test). A value is masked when its key
-- names a credential or session secret, compared case-insensitively after turning '-' into
-- '_', or when it is a card number found by value: a Luhn-valid run of 13 to 19 digits
-- (spaces or dashes between groups allowed), masked to its last four digits.

create or replace function private.is_secret_key(p_key text) returns boolean
language sql immutable
set search_path = ''
as $$
  select k ~ '(secret|passw|passphrase|token|api_?key|private_?key|key_?hash|credential|signature|salt|authori[sz]ation|cookie|session|cvv|cvc|card_?number|card_?no|account_?number|access_?key|jwt|bearer|otp|mpin|upi_?pin)'
    or k ~ '(^|_)(pin|pan|auth|sig|pwd|pass)(_|$)'
  from (select replace(lower(p_key), '-', '_') as k) as x
$$;
comment on function private.is_secret_key(text) is
$$Whether a JSON key names a secret (credentials, signatures, tokens, cookies, sessions, card
and account numbers, PINs, OTPs), case-insensitively with '-' read as '_'.$$;

create function private.luhn_ok(p_digits text) returns boolean
language plpgsql immutable
set search_path = ''
as $$
declare
  total integer := 0;
  d integer;
  n integer := char_length(p_digits);
begin
  for i in reverse n .. 1 loop
    d := substr(p_digits, i, 1)::integer;
    if (n - i) % 2 = 1 then
      d := d * 2;
      if d > 9 then
        d := d - 9;
      end if;
    end if;
    total := total + d;
  end loop;
  return total % 10 = 0;
end
$$;
comment on function private.luhn_ok(text) is
$$The Luhn (mod 10) check of a string of digits: true for card numbers.$$;

create function private.mask_card_numbers(p_text text) returns text
language plpgsql immutable
set search_path = ''
as $$
declare
  found text;
  digits text;
  result text := p_text;
begin
  if p_text is null or p_text !~ '[0-9]{4}' then
    return p_text;
  end if;
  for found in
    select m[1] from regexp_matches(p_text, '(?:^|[^0-9])([0-9](?:[ -]?[0-9]){12,18})(?=$|[^0-9])', 'g') as m
  loop
    digits := regexp_replace(found, '[^0-9]', '', 'g');
    if char_length(digits) between 13 and 19 and private.luhn_ok(digits) then
      result := replace(result, found, repeat('*', char_length(digits) - 4) || right(digits, 4));
    end if;
  end loop;
  return result;
end
$$;
comment on function private.mask_card_numbers(text) is
$$The text with every card number (a Luhn-valid run of 13 to 19 digits, spaces or dashes
between groups allowed) masked to its last four digits.$$;

create or replace function private.redact(p_value jsonb, p_extra_keys text[] default '{}')
returns jsonb
language plpgsql immutable
set search_path = ''
as $$
declare
  k text;
  v jsonb;
  result jsonb;
begin
  case jsonb_typeof(p_value)
    when 'object' then
      result := '{}'::jsonb;
      for k, v in select e.key, e.value from jsonb_each(p_value) as e loop
        if (k = any(p_extra_keys) or private.is_secret_key(k)) and jsonb_typeof(v) <> 'null' then
          result := result || jsonb_build_object(k, '[redacted]');
        else
          result := result || jsonb_build_object(k, private.redact(v, p_extra_keys));
        end if;
      end loop;
      return result;
    when 'array' then
      select coalesce(jsonb_agg(private.redact(e.value, p_extra_keys) order by e.ord), '[]'::jsonb)
      into result
      from jsonb_array_elements(p_value) with ordinality as e (value, ord);
      return result;
    when 'string' then
      return to_jsonb(private.mask_card_numbers(p_value #>> '{}'));
    else
      return p_value;
  end case;
end
$$;
comment on function private.redact(jsonb, text[]) is
$$A JSON value with every secret-named key's value replaced by '[redacted]' (plus
p_extra_keys), and card numbers found by value in strings masked to their last four digits,
nested objects and arrays included. (JSON numbers are left alone: amounts and millisecond
timestamps are numbers, and a tenth of all digit runs pass Luhn.)$$;

revoke execute on function private.luhn_ok(text), private.mask_card_numbers(text)
from public, anon;
grant execute on function private.luhn_ok(text), private.mask_card_numbers(text)
to authenticated, service_role;
revoke execute on all functions in schema private from public, anon;
