-- Currencies: the ISO 4217 list (active codes, with each one's minor-unit exponent), the one
-- place every money input is checked against. Amounts everywhere are integers in minor
-- units: 10^exponent of them make one major unit (paise for INR: exponent 2).
-- Source: ISO 4217 list one, https://www.six-group.com/en/products-services/financial-information/data-standards.html

create table public.currencies (
  code text primary key check (code ~ '^[A-Z]{3}$'),
  exponent smallint not null check (exponent between 0 and 4),
  name text not null check (char_length(name) between 1 and 100),
  created_at timestamptz not null default now()
);
alter table public.currencies enable row level security;
create policy currencies_read on public.currencies
for select to authenticated using (true);
revoke all on public.currencies from public, anon, authenticated;
grant select on public.currencies to authenticated;
grant select, insert, update, delete on public.currencies to service_role;
comment on table public.currencies is
$$ISO 4217 currencies (reference data, written by migrations): code and minor-unit exponent.
Who: any signed-in user or API key reads; nobody writes through the API.$$;
comment on column public.currencies.exponent is
$$Minor units per major unit, as a power of ten: 2 for INR (100 paise), 0 for JPY, 3 for KWD.$$;

insert into public.currencies (code, exponent, name) values
('AED', 2, 'UAE Dirham'),
('AFN', 2, 'Afghani'),
('ALL', 2, 'Lek'),
('AMD', 2, 'Armenian Dram'),
('ANG', 2, 'Netherlands Antillean Guilder'),
('AOA', 2, 'Kwanza'),
('ARS', 2, 'Argentine Peso'),
('AUD', 2, 'Australian Dollar'),
('AWG', 2, 'Aruban Florin'),
('AZN', 2, 'Azerbaijan Manat'),
('BAM', 2, 'Convertible Mark'),
('BBD', 2, 'Barbados Dollar'),
('BDT', 2, 'Taka'),
('BGN', 2, 'Bulgarian Lev'),
('BHD', 3, 'Bahraini Dinar'),
('BIF', 0, 'Burundi Franc'),
('BMD', 2, 'Bermudian Dollar'),
('BND', 2, 'Brunei Dollar'),
('BOB', 2, 'Boliviano'),
('BRL', 2, 'Brazilian Real'),
('BSD', 2, 'Bahamian Dollar'),
('BTN', 2, 'Ngultrum'),
('BWP', 2, 'Pula'),
('BYN', 2, 'Belarusian Ruble'),
('BZD', 2, 'Belize Dollar'),
('CAD', 2, 'Canadian Dollar'),
('CDF', 2, 'Congolese Franc'),
('CHF', 2, 'Swiss Franc'),
('CLP', 0, 'Chilean Peso'),
('CNY', 2, 'Yuan Renminbi'),
('COP', 2, 'Colombian Peso'),
('CRC', 2, 'Costa Rican Colon'),
('CUP', 2, 'Cuban Peso'),
('CVE', 2, 'Cabo Verde Escudo'),
('CZK', 2, 'Czech Koruna'),
('DJF', 0, 'Djibouti Franc'),
('DKK', 2, 'Danish Krone'),
('DOP', 2, 'Dominican Peso'),
('DZD', 2, 'Algerian Dinar'),
('EGP', 2, 'Egyptian Pound'),
('ERN', 2, 'Nakfa'),
('ETB', 2, 'Ethiopian Birr'),
('EUR', 2, 'Euro'),
('FJD', 2, 'Fiji Dollar'),
('FKP', 2, 'Falkland Islands Pound'),
('GBP', 2, 'Pound Sterling'),
('GEL', 2, 'Lari'),
('GHS', 2, 'Ghana Cedi'),
('GIP', 2, 'Gibraltar Pound'),
('GMD', 2, 'Dalasi'),
('GNF', 0, 'Guinean Franc'),
('GTQ', 2, 'Quetzal'),
('GYD', 2, 'Guyana Dollar'),
('HKD', 2, 'Hong Kong Dollar'),
('HNL', 2, 'Lempira'),
('HTG', 2, 'Gourde'),
('HUF', 2, 'Forint'),
('IDR', 2, 'Rupiah'),
('ILS', 2, 'New Israeli Sheqel'),
('INR', 2, 'Indian Rupee'),
('IQD', 3, 'Iraqi Dinar'),
('IRR', 2, 'Iranian Rial'),
('ISK', 0, 'Iceland Krona'),
('JMD', 2, 'Jamaican Dollar'),
('JOD', 3, 'Jordanian Dinar'),
('JPY', 0, 'Yen'),
('KES', 2, 'Kenyan Shilling'),
('KGS', 2, 'Som'),
('KHR', 2, 'Riel'),
('KMF', 0, 'Comorian Franc'),
('KPW', 2, 'North Korean Won'),
('KRW', 0, 'Won'),
('KWD', 3, 'Kuwaiti Dinar'),
('KYD', 2, 'Cayman Islands Dollar'),
('KZT', 2, 'Tenge'),
('LAK', 2, 'Lao Kip'),
('LBP', 2, 'Lebanese Pound'),
('LKR', 2, 'Sri Lanka Rupee'),
('LRD', 2, 'Liberian Dollar'),
('LSL', 2, 'Loti'),
('LYD', 3, 'Libyan Dinar'),
('MAD', 2, 'Moroccan Dirham'),
('MDL', 2, 'Moldovan Leu'),
('MGA', 2, 'Malagasy Ariary'),
('MKD', 2, 'Denar'),
('MMK', 2, 'Kyat'),
('MNT', 2, 'Tugrik'),
('MOP', 2, 'Pataca'),
('MRU', 2, 'Ouguiya'),
('MUR', 2, 'Mauritius Rupee'),
('MVR', 2, 'Rufiyaa'),
('MWK', 2, 'Malawi Kwacha'),
('MXN', 2, 'Mexican Peso'),
('MYR', 2, 'Malaysian Ringgit'),
('MZN', 2, 'Mozambique Metical'),
('NAD', 2, 'Namibia Dollar'),
('NGN', 2, 'Naira'),
('NIO', 2, 'Cordoba Oro'),
('NOK', 2, 'Norwegian Krone'),
('NPR', 2, 'Nepalese Rupee'),
('NZD', 2, 'New Zealand Dollar'),
('OMR', 3, 'Rial Omani'),
('PAB', 2, 'Balboa'),
('PEN', 2, 'Sol'),
('PGK', 2, 'Kina'),
('PHP', 2, 'Philippine Peso'),
('PKR', 2, 'Pakistan Rupee'),
('PLN', 2, 'Zloty'),
('PYG', 0, 'Guarani'),
('QAR', 2, 'Qatari Rial'),
('RON', 2, 'Romanian Leu'),
('RSD', 2, 'Serbian Dinar'),
('RUB', 2, 'Russian Ruble'),
('RWF', 0, 'Rwanda Franc'),
('SAR', 2, 'Saudi Riyal'),
('SBD', 2, 'Solomon Islands Dollar'),
('SCR', 2, 'Seychelles Rupee'),
('SDG', 2, 'Sudanese Pound'),
('SEK', 2, 'Swedish Krona'),
('SGD', 2, 'Singapore Dollar'),
('SHP', 2, 'Saint Helena Pound'),
('SLE', 2, 'Leone'),
('SOS', 2, 'Somali Shilling'),
('SRD', 2, 'Surinam Dollar'),
('SSP', 2, 'South Sudanese Pound'),
('STN', 2, 'Dobra'),
('SVC', 2, 'El Salvador Colon'),
('SYP', 2, 'Syrian Pound'),
('SZL', 2, 'Lilangeni'),
('THB', 2, 'Baht'),
('TJS', 2, 'Somoni'),
('TMT', 2, 'Turkmenistan New Manat'),
('TND', 3, 'Tunisian Dinar'),
('TOP', 2, 'Pa''anga'),
('TRY', 2, 'Turkish Lira'),
('TTD', 2, 'Trinidad and Tobago Dollar'),
('TWD', 2, 'New Taiwan Dollar'),
('TZS', 2, 'Tanzanian Shilling'),
('UAH', 2, 'Hryvnia'),
('UGX', 0, 'Uganda Shilling'),
('USD', 2, 'US Dollar'),
('UYU', 2, 'Peso Uruguayo'),
('UZS', 2, 'Uzbekistan Sum'),
('VES', 2, 'Bolivar Soberano'),
('VND', 0, 'Dong'),
('VUV', 0, 'Vatu'),
('WST', 2, 'Tala'),
('XAF', 0, 'CFA Franc BEAC'),
('XCD', 2, 'East Caribbean Dollar'),
('XOF', 0, 'CFA Franc BCEAO'),
('XPF', 0, 'CFP Franc'),
('YER', 2, 'Yemeni Rial'),
('ZAR', 2, 'Rand'),
('ZMW', 2, 'Zambian Kwacha'),
('ZWG', 2, 'Zimbabwe Gold')
on conflict (code) do nothing;

-- The one currency check: an upper-case ISO 4217 code from the table, else 22023.
create function private.check_currency(p_code text) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if p_code is null or not exists (select 1 from public.currencies as c where c.code = p_code) then
    raise exception 'currency must be an ISO 4217 code in upper case, such as INR (got %)',
      coalesce(p_code, 'null') using errcode = '22023';
  end if;
  return p_code;
end
$$;
comment on function private.check_currency(text) is
$$The currency p_code if it is an ISO 4217 code from public.currencies; 22023 otherwise
(lower case and unknown codes included).$$;
revoke execute on function private.check_currency(text) from public, anon;
grant execute on function private.check_currency(text) to authenticated, service_role;

-- Gateways take only ISO 4217 currencies from the table (it checked the shape alone).
create or replace function private.apply_gateway_changes(g public.gateways, p_changes jsonb)
returns public.gateways
language plpgsql stable
set search_path = ''
as $$
declare
  allowed constant text[] := '{display_name,environment,status,priority,min_amount,max_amount,daily_limit,currencies,methods,regions,config}';
  k text;
  v jsonb;
begin
  for k, v in select e.key, e.value from jsonb_each(p_changes) as e loop
    if k in ('provider', 'credentials', 'test') then
      continue; -- handled by the caller
    end if;
    if not k = any(allowed) then
      raise exception 'unknown gateway field %', k using errcode = '22023';
    end if;
    begin
      case k
        when 'display_name' then
          if jsonb_typeof(v) <> 'string' or char_length(btrim(v #>> '{}')) not between 1 and 100 then
            raise exception 'display_name must be 1 to 100 characters' using errcode = '22023';
          end if;
          g.display_name := btrim(v #>> '{}');
        when 'environment' then
          if v #>> '{}' not in ('test', 'live') or jsonb_typeof(v) <> 'string' then
            raise exception 'environment must be test or live' using errcode = '22023';
          end if;
          g.environment := v #>> '{}';
        when 'status' then
          if jsonb_typeof(v) <> 'string' or v #>> '{}' not in ('active', 'inactive') then
            raise exception 'status must be active or inactive (archive with DELETE)'
              using errcode = '22023';
          end if;
          g.status := v #>> '{}';
        when 'priority' then
          if jsonb_typeof(v) <> 'number' or (v #>> '{}')::numeric not between 0 and 100000
            or (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric) then
            raise exception 'priority must be a whole number from 0 to 100000'
              using errcode = '22023';
          end if;
          g.priority := (v #>> '{}')::integer;
        when 'min_amount', 'max_amount', 'daily_limit' then
          if not (jsonb_typeof(v) = 'null' and k <> 'min_amount')
            and (jsonb_typeof(v) <> 'number' or (v #>> '{}')::numeric <= 0
              or (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)
              or (v #>> '{}')::numeric > 9000000000000000) then
            raise exception '% must be a positive whole number of minor units%', k,
              case when k = 'min_amount' then '' else ' or null for no limit' end
              using errcode = '22023';
          end if;
          if k = 'min_amount' then
            g.min_amount := (v #>> '{}')::bigint;
          elsif k = 'max_amount' then
            g.max_amount := (v #>> '{}')::bigint;
          else
            g.daily_limit := (v #>> '{}')::bigint;
          end if;
        when 'currencies' then
          if jsonb_typeof(v) <> 'array' or jsonb_array_length(v) = 0 or exists (
            select 1 from jsonb_array_elements(v) as c
            where jsonb_typeof(c) <> 'string' or not exists (
              select 1 from public.currencies as x where x.code = c #>> '{}'
            )
          ) then
            raise exception 'currencies must be a non-empty list of ISO 4217 codes such as INR'
              using errcode = '22023';
          end if;
          g.currencies := array(select distinct c from jsonb_array_elements_text(v) as c order by c);
        when 'methods' then
          if jsonb_typeof(v) <> 'array' or exists (
            select 1 from jsonb_array_elements(v) as m
            where jsonb_typeof(m) <> 'string'
              or m #>> '{}' not in ('card', 'upi', 'netbanking', 'wallet', 'emi', 'paylater')
          ) then
            raise exception 'methods must be a list drawn from card, upi, netbanking, wallet, emi, paylater'
              using errcode = '22023';
          end if;
          g.methods := array(select distinct m from jsonb_array_elements_text(v) as m order by m);
        when 'regions' then
          if jsonb_typeof(v) <> 'array' or exists (
            select 1 from jsonb_array_elements(v) as r
            where jsonb_typeof(r) <> 'string' or r #>> '{}' !~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'
          ) then
            raise exception 'regions must be a list of ISO 3166 codes such as IN or IN-KA'
              using errcode = '22023';
          end if;
          g.regions := array(select distinct r from jsonb_array_elements_text(v) as r order by r);
        when 'config' then
          if jsonb_typeof(v) <> 'object' then
            raise exception 'config must be an object' using errcode = '22023';
          end if;
          if private.redact(v)::text <> v::text then
            raise exception 'config holds secret-looking keys: put secrets in credentials'
              using errcode = '22023';
          end if;
          g.config := v;
      end case;
    exception when numeric_value_out_of_range or invalid_text_representation then
      raise exception '% has an invalid value', k using errcode = '22023';
    end;
  end loop;
  if g.max_amount is not null and g.max_amount < g.min_amount then
    raise exception 'max_amount must not be below min_amount' using errcode = '22023';
  end if;
  return g;
end
$$;

-- Nothing here for anon; private helpers only through the RPCs and grants above.
revoke execute on all functions in schema private from public, anon;
revoke all on all sequences in schema public from anon, authenticated;
